"""All database queries, one module per resource; routes and the worker call these."""
