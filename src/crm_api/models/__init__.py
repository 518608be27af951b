"""Every model module, imported here so Alembic and the app see one complete registry (core.orm's `Base`)."""

from crm_api.core.orm import Base
from crm_api.core.tables import AuditEvent, ChangeLog, ChangeLogPruned, CodeCounter, IdempotencyRecord, JobRun, OutboxEvent
from crm_api.models.approval import ApprovalFlow, ApprovalFlowStep, ApprovalRequest, ApprovalRequestStep
from crm_api.models.churn import ChurnMeasure, ChurnWarning
from crm_api.models.collaboration import Document, Task
from crm_api.models.contract import Contract, Installment, Invoice, Receipt
from crm_api.models.custom_field import CustomFieldDefinition
from crm_api.models.customer import (
    Contact,
    ContactConsent,
    Customer,
    CustomerTag,
    Interaction,
    OwnershipChange,
    RecycleRule,
)
from crm_api.models.identity import (
    ApiKey,
    LoginAttempt,
    RefreshToken,
    Role,
    RolePermission,
    Team,
    TotpRecoveryCode,
    User,
    UserTotp,
)
from crm_api.models.imports import DataImport, ImportRowError
from crm_api.models.marketing import Campaign, CampaignTouch, CampaignVariant, CustomerRfm, Segment
from crm_api.models.notification import (
    ChannelDelivery,
    Notification,
    NotificationChannelPreference,
    NotificationRobot,
    SmtpSettings,
)
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
from crm_api.models.platform import DictionaryItem
from crm_api.models.quote import Quote, QuoteLine
from crm_api.models.sales import CustomerRevenue, InventoryItem, Order, OrderLine, Product
from crm_api.models.target import SalesTarget
from crm_api.models.ticket import (
    KbArticle,
    ServiceTicket,
    SlaPolicy,
    TicketArticle,
    TicketAssignment,
    TicketFeedback,
    TicketHandling,
    TicketRoutingRule,
)
from crm_api.models.webhook import WebhookDelivery, WebhookSubscription, WebhookSubscriptionEvent

__all__ = [
    "ApiKey",
    "ApprovalFlow",
    "ApprovalFlowStep",
    "ApprovalRequest",
    "ApprovalRequestStep",
    "AuditEvent",
    "Base",
    "Campaign",
    "CampaignTouch",
    "CampaignVariant",
    "ChangeLog",
    "ChangeLogPruned",
    "ChannelDelivery",
    "ChurnMeasure",
    "ChurnWarning",
    "CodeCounter",
    "Contact",
    "ContactConsent",
    "Contract",
    "CustomFieldDefinition",
    "Customer",
    "CustomerRevenue",
    "CustomerRfm",
    "CustomerTag",
    "DataImport",
    "DictionaryItem",
    "Document",
    "IdempotencyRecord",
    "ImportRowError",
    "Installment",
    "Interaction",
    "InventoryItem",
    "Invoice",
    "JobRun",
    "KbArticle",
    "Lead",
    "LeadActivity",
    "LeadAssignmentRule",
    "LeadScoringRule",
    "LoginAttempt",
    "Notification",
    "NotificationChannelPreference",
    "NotificationRobot",
    "Opportunity",
    "Order",
    "OrderLine",
    "OutboxEvent",
    "OwnershipChange",
    "PlanItem",
    "Product",
    "Quote",
    "QuoteLine",
    "Receipt",
    "RecycleRule",
    "RefreshToken",
    "Reminder",
    "Role",
    "RolePermission",
    "SalesTarget",
    "Segment",
    "ServiceTicket",
    "SlaPolicy",
    "SmtpSettings",
    "StageChange",
    "Task",
    "Team",
    "TicketArticle",
    "TicketAssignment",
    "TicketFeedback",
    "TicketHandling",
    "TicketRoutingRule",
    "TotpRecoveryCode",
    "User",
    "UserTotp",
    "WebhookDelivery",
    "WebhookSubscription",
    "WebhookSubscriptionEvent",
]
