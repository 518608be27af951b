from crm_api.core.errors import DomainError


class DocumentTypeNotAllowed(DomainError):
    status, code, title = 415, "document.type_not_allowed", "This type of file is not accepted"
