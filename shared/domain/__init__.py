"""Pure domain logic: registry, matter catalog, routing, lifecycle, deadlines. No I/O imports here."""
