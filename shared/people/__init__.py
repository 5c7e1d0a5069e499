"""People as users: persons, the roles they hold in units, passwords, and what each role may do."""
