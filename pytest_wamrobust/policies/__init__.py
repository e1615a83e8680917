"""Built-in policies and adapters behind the Policy protocol."""
