"""The helpdesk: tickets and their comments, with an HTML page to read them."""
