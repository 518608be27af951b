"""Every model module, imported here so Alembic and the app see one complete registry."""

from crm_api.models.base import Base
from crm_api.models.customer import Contact, Customer, CustomerTag, Interaction
from crm_api.models.identity import ApiKey, LoginAttempt, RefreshToken, Role, RolePermission, Team, User
from crm_api.models.pipeline import (
    Lead,
    LeadActivity,
    LeadAssignmentRule,
    LeadScoringRule,
    Opportunity,
    PlanItem,
    Reminder,
    StageChange,
)
from crm_api.models.platform import AuditEvent, CodeCounter, DictionaryItem, IdempotencyRecord, JobRun
from crm_api.models.sales import InventoryItem, Order, OrderLine, Product

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "CodeCounter",
    "Contact",
    "Customer",
    "CustomerTag",
    "DictionaryItem",
    "IdempotencyRecord",
    "Interaction",
    "InventoryItem",
    "JobRun",
    "Lead",
    "LeadActivity",
    "LeadAssignmentRule",
    "LeadScoringRule",
    "LoginAttempt",
    "Opportunity",
    "Order",
    "OrderLine",
    "PlanItem",
    "Product",
    "RefreshToken",
    "Reminder",
    "Role",
    "RolePermission",
    "StageChange",
    "Team",
    "User",
]
