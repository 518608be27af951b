"""Admin-defined, typed custom fields of customers, contacts, leads, opportunities and tickets (SPEC §3.17)."""
