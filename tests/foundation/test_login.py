"""Login, logout and brute-force lock-out."""
from django.urls import reverse


def test_a_person_logs_in_and_lands_on_the_dashboard(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "correct horse battery"}, follow=True)
    assert response.redirect_chain[-1][0].endswith(reverse("dashboard"))


def test_helpdesk_lands_on_user_search(client, bob):
    response = client.post("/login/", {"username": "bob", "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.get("/")["Location"] == "/users/"


def test_repeated_failed_logins_lock_the_account_out_for_a_while(client, alice):
    for _ in range(5):
        client.post("/login/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="127.0.0.5")
    response = client.post("/login/", {"username": "alice", "password": "correct horse battery"},
                           REMOTE_ADDR="127.0.0.5")
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()


def test_logout_ends_the_session(admin_client):
    admin_client.post("/logout/")
    assert admin_client.get("/sites/").status_code == 302
