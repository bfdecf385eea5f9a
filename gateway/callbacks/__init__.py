"""Status callbacks to the province (province-api.md §4), through the outbox."""
