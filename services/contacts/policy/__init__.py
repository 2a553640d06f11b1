"""The contact policy: the one gate every contact with a debtor passes (rules, repository, use cases, routes)."""
