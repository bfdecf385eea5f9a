"""Reading the ministry's change feed back into dossier statuses and province callbacks."""
