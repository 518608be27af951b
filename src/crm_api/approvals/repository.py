from collections.abc import Collection

from sqlalchemy import Select, and_, exists, select

from crm_api.approvals import policy
from crm_api.core.permissions import Principal
from crm_api.core.repository import Repository
from crm_api.models.approval import ApprovalFlow, ApprovalRequest
from crm_api.models.identity import Role, User


class FlowRepository(Repository[ApprovalFlow]):
    model = ApprovalFlow

    async def of_subject(self, subject_type: str) -> ApprovalFlow | None:
        return await self.session.scalar(select(ApprovalFlow).where(ApprovalFlow.subject_type == subject_type))

    async def known_roles(self, codes: Collection[str]) -> set[str]:
        return set((await self.session.scalars(select(Role.code).where(Role.code.in_(codes)))).all())

    async def active_users(self, ids: Collection[int]) -> set[int]:
        return set((await self.session.scalars(select(User.id).where(User.id.in_(ids), User.active.is_(True)))).all())


class RequestRepository(Repository[ApprovalRequest]):
    model = ApprovalRequest
    visible = staticmethod(policy.visible)

    def filtered(
        self, statement: Select[ApprovalRequest], principal: Principal, *, pending_for_me: bool, requested_by_me: bool
    ) -> Select[ApprovalRequest]:
        if pending_for_me:
            statement = statement.where(policy.pending_for(principal))
        if requested_by_me:
            statement = statement.where(ApprovalRequest.requester_id == principal.user_id)
        return statement

    async def latest_of(self, subject_type: str, subject_ids: Collection[int]) -> dict[int, ApprovalRequest]:
        """Each subject's newest request."""
        if not subject_ids:
            return {}
        newer = ApprovalRequest.__table__.alias("newer")
        statement = select(ApprovalRequest).where(
            ApprovalRequest.subject_type == subject_type,
            ApprovalRequest.subject_id.in_(subject_ids),
            ~exists().where(
                and_(
                    newer.c.subject_type == ApprovalRequest.subject_type,
                    newer.c.subject_id == ApprovalRequest.subject_id,
                    newer.c.id > ApprovalRequest.id,
                )
            ),
        )
        return {request.subject_id: request for request in (await self.session.scalars(statement)).unique().all()}
