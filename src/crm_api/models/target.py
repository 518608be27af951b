"""Sales targets (销售目标): an amount per user or per team for a calendar month."""

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.references import name_of
from crm_api.models.identity import Team, User
from crm_api.targets.policy import TargetHolder


class SalesTarget(Versioned, Timestamped, Base):
    __tablename__ = "sales_targets"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        # A target is a person's or a team's, never both.
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="one_holder"),
        UniqueConstraint("user_id", "month", name="uq_sales_targets_user_id_month"),
        UniqueConstraint("team_id", "month", name="uq_sales_targets_team_id_month"),
        Index("ix_sales_targets_month", "month"),
    )

    id: Mapped[IntPK]
    month: Mapped[date]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    amount: Mapped[Decimal]
    user_name: Mapped[str | None] = name_of(User.full_name, user_id)
    team_name: Mapped[str | None] = name_of(Team.name, team_id)

    @property
    def holder(self) -> TargetHolder:
        return TargetHolder.USER if self.user_id is not None else TargetHolder.TEAM
