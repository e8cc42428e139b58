import httpx
import pytest
from iblai import models
from iblai.api import AiPromptApi
from iblai.clients import get_platform_api_client


# The client code under test: yours would live in your package.
def remember(base_url: str, token: str, content: str) -> str:
    """Store a memory in VirtuousAI; its id."""
    response = httpx.post(f"{base_url}/api/v1/memory", json={"content": content},
                          headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()["id"]


def pause_chat_memory(base_url: str, token: str, org: str, user: str) -> bool:
    """Turn a user's chat memory off with the official iblai client; whether it is still on."""
    client = get_platform_api_client(base_url, token)
    raw = AiPromptApi(client).ai_prompt_orgs_users_chat_memory_status_update(
        org=org, user_id=user,
        user_chat_memory_status_request_view=models.UserChatMemoryStatusRequestView(enabled=False))
    if raw.status != 200:  # the client's methods hand back the raw response, errors included
        raise RuntimeError(f"chat memory status: HTTP {raw.status}")
    status = client.deserialize(raw.data.decode(), "UserChatMemoryStatusView", raw.headers["content-type"])
    return bool(status.enabled)


@pytest.fixture(autouse=True)
def fresh_state(memmock):
    memmock.reset()  # each test starts from the loaded fixtures


def test_remember(memmock):
    token = memmock.vai_token()
    memory_id = remember(memmock.url, token, "prefers short answers")
    stored = httpx.get(f"{memmock.url}/api/v1/memory/{memory_id}", headers={"Authorization": f"Bearer {token}"})
    assert stored.json()["content"] == "prefers short answers"


def test_pause_chat_memory(memmock):
    assert pause_chat_memory(memmock.url, memmock.ibl_token("johndoe"), "main", "johndoe") is False


def test_a_user_token_cannot_reach_another_user(memmock):
    with pytest.raises(RuntimeError, match="HTTP 403"):
        pause_chat_memory(memmock.url, memmock.ibl_token("johndoe"), "main", "janedoe")
