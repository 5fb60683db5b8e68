"""What every app's REST API shares: token auth, permissions, the base viewset, pagination."""
