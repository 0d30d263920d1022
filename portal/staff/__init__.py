"""The care team's workspace: patient search, break-glass and patient context."""
