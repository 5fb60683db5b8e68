app_name = "push"

urlpatterns: list = []
