app_name = "cdrs"

urlpatterns: list = []
