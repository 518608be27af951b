"""The sales-system read model: products, inventory and orders pushed by the sales system, read by the CRM."""
