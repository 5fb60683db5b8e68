from django.urls import path

app_name = "trunks"

urlpatterns: list = []
