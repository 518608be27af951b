"""CRM API: a FastAPI service for leads, opportunities, customers, service and reports."""
