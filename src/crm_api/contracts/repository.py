from sqlalchemy import Select

from crm_api.contracts import policy
from crm_api.contracts.policy import ContractStatus
from crm_api.core.repository import Repository
from crm_api.models.contract import Contract


class ContractRepository(Repository[Contract]):
    model = Contract
    visible = staticmethod(policy.visible)

    def filtered(
        self, statement: Select[Contract], *, status: ContractStatus | None, customer_id: int | None
    ) -> Select[Contract]:
        if status:
            statement = statement.where(Contract.status == status)
        if customer_id is not None:
            statement = statement.where(Contract.customer_id == customer_id)
        return statement
