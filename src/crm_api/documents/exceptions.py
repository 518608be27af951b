from crm_api.core.errors import DomainError


class DocumentTypeNotAllowed(DomainError):
    """The uploaded file's type is not one the service accepts as a document."""

    status, code, title = 415, "document.type_not_allowed", "This type of file is not accepted"
