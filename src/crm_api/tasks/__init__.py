"""Tasks and reminders: work items with an assignee, a due time and a related record."""
