"""/api/v1/… and /api/schema/ — owned by the API issue; each app contributes its api/ routes."""
urlpatterns: list = []
