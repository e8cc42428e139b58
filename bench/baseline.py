"""The benchmark's ceiling: bare Starlette answering the same routes from plain dicts.

No spec, no validation, no auth beyond a dict lookup: what Python and uvicorn can do on this
machine with the same JSON encoder (orjson). ``bench/run.py`` starts it beside the mock.
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

IBL = "/api/ai-prompt/orgs/{org}/users/{user_id}"
MENTOR = "/api/ai-mentor/orgs/{org}/users/{user_id}"
ANALYTICS = "/api/ai-analytics/orgs/{org}/users/{user_id}"
ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"

status: dict[tuple[str, str], dict[str, Any]] = {("main", "johndoe"): {"id": 1, "username": "johndoe", "platform_key": "main", "enabled": True}}
artifacts = [
    {"id": i, "title": f"Artifact {i}", "file_extension": "md", "llm_name": "gpt-4", "llm_provider": "openai",
     "date_created": "2024-06-01T09:00:00Z", "date_updated": "2024-06-01T09:00:00Z", "username": "johndoe",
     "session_id": str(uuid.UUID(int=i)), "content_length": 120, "content": "x" * 120, "metadata": {}}
    for i in range(1, 101)
]
memories: dict[str, dict[str, Any]] = {}
conversations: list[dict[str, Any]] = []


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


def _authorized(request: Request) -> bool:
    return request.headers.get("authorization", "").startswith(("Api-Token ", "Bearer "))


async def get_status(request: Request) -> Response:
    if not _authorized(request):
        return _json({"detail": "Authentication credentials were not provided."}, 401)
    return _json(status[(request.path_params["org"], request.path_params["user_id"])])


async def put_status(request: Request) -> Response:
    body = orjson.loads(await request.body())
    key = (request.path_params["org"], request.path_params["user_id"])
    status[key] = {**status.get(key, {"id": 2}), "username": key[1], "platform_key": key[0], "enabled": body["enabled"]}
    return _json(status[key])


async def list_artifacts(request: Request) -> Response:
    size = min(int(request.query_params.get("page_size", 10)), 100)
    results = [{k: v for k, v in a.items() if k not in ("content", "metadata")} for a in artifacts[:size]]
    return _json({"count": len(artifacts), "next": None, "previous": None, "results": results})


async def get_artifact(request: Request) -> Response:
    return _json(artifacts[int(request.path_params["id"]) - 1])


async def create_conversation(request: Request) -> Response:
    body = orjson.loads(await request.body())
    conversation = {"id": str(uuid.uuid4()), "inserted_at": datetime.now(timezone.utc).isoformat(), **body}
    conversations.append(conversation)
    return _json(conversation, 201)


async def average_messages(request: Request) -> Response:
    return _json([{"time": f"2024-06-01T{h % 24:02d}:00:00Z", "avg_messages": 0, "total_sessions": 0} for h in range(720)])


async def list_memories(request: Request) -> Response:
    limit = int(request.query_params.get("limit", 50))
    return _json({"memories": list(memories.values())[:limit], "total": len(memories)})


async def create_memory(request: Request) -> Response:
    body = orjson.loads(await request.body())
    memory = {"id": str(uuid.uuid4()), "content": body["content"], "createdAt": datetime.now(timezone.utc).isoformat(),
              "organizationId": ORG, "source": "explicit", "sourceThreadId": None, "sourceTurnId": None}
    memories[memory["id"]] = memory
    return _json(memory, 201)


async def get_memory(request: Request) -> Response:
    memory = memories.get(request.path_params["memory_id"])
    return _json(memory) if memory else _json({"detail": "Memory not found"}, 404)


async def delete_memory(request: Request) -> Response:
    return Response(status_code=204 if memories.pop(request.path_params["memory_id"], None) else 404)


seeded: list[str] = []


async def seed_memories(request: Request) -> Response:
    """Replace the pool the last call seeded (a DELETE row's ids) with this one, as the mock's import does."""
    for memory_id in seeded:
        memories.pop(memory_id, None)
    seeded[:] = orjson.loads(await request.body())
    for memory_id in seeded:
        memories[memory_id] = {"id": memory_id, "content": "seeded", "createdAt": "2024-06-01T00:00:00Z",
                               "organizationId": ORG, "source": "explicit", "sourceThreadId": None, "sourceTurnId": None}
    return Response(status_code=204)


async def health(request: Request) -> Response:
    return _json({"status": "ok"})


app = Starlette(routes=[
    Route(IBL + "/chat-memory-status/", get_status, methods=["GET"]),
    Route(IBL + "/chat-memory-status/", put_status, methods=["PUT"]),
    Route(MENTOR + "/artifacts/", list_artifacts, methods=["GET"]),
    Route(MENTOR + "/artifacts/{id:int}/", get_artifact, methods=["GET"]),
    Route(ANALYTICS + "/chat-history/", create_conversation, methods=["POST"]),
    Route(ANALYTICS + "/average-messages-per-session/", average_messages, methods=["GET"]),
    Route("/api/v1/memory", list_memories, methods=["GET"]),
    Route("/api/v1/memory", create_memory, methods=["POST"]),
    Route("/api/v1/memory/{memory_id}", get_memory, methods=["GET"]),
    Route("/api/v1/memory/{memory_id}", delete_memory, methods=["DELETE"]),
    Route("/_bench/memories", seed_memories, methods=["PUT"]),
    Route("/_mock/health", health, methods=["GET"]),
])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False, proxy_headers=False)
