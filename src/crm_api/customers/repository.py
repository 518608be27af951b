from crm_api.core.repository import Repository
from crm_api.models.customer import Customer


class CustomerRepository(Repository[Customer]):
    """Customers are scoped by their account manager (owner) and that owner's team."""

    model = Customer
    owner_column = Customer.owner_id
