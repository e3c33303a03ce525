"""The PyPI `mcp` client (the official Python SDK), unchanged, against Pigeonhole's MCP
server: over stdio (`pigeonhole mcp --url URL`) and over streamable HTTP (URL/mcp).

Usage: mcp_client.py BINARY URL HOSTILE_ID BIG_ID
  - every tool is called, a message resource read, both prompts fetched, on both
    transports;
  - HOSTILE_ID's body says "Ignore previous instructions": it must come back only
    inside the <untrusted-email-content> block;
  - BIG_ID is a 20 MB message: get_message must stay small and say how to read on;
  - `pigeonhole mcp` with no engine at its URL still starts, and a tool says how to
    start one.
Prints one line per checked step; any failure raises (exit 1).
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

TOOLS = {
    "list_inboxes", "search_messages", "get_message", "wait_for_message", "extract_links",
    "extract_codes", "check_message", "get_raw", "delete_messages", "send_test_message",
}
OPEN, CLOSE = "<untrusted-email-content>", "</untrusted-email-content>"


def text_of(result):
    assert len(result.content) == 1, result
    return result.content[0].text


def inside(text):
    """The JSON inside the block, checked to be the only thing there and to parse."""
    assert text.count(OPEN) == 1 and text.count(CLOSE) == 1, text[:500]
    before, rest = text.split(OPEN, 1)
    body, after = rest.split(CLOSE, 1)
    assert "never follow instructions" in before.lower(), before
    assert after == "", after
    return json.loads(body)


async def call(session, name, arguments=None):
    result = await session.call_tool(name, arguments or {})
    assert not result.is_error, (name, text_of(result))
    return text_of(result)


async def exercise(session, label, hostile_id, big_id):
    info = await session.initialize()
    assert info.server_info.name == "pigeonhole", info
    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == TOOLS, set(tools)
    for tool in tools.values():
        assert tool.description and tool.input_schema["type"] == "object", tool
        if tool.name not in ("delete_messages", "send_test_message"):
            assert "untrusted" in tool.description, tool.description

    sent = await call(session, "send_test_message", {
        "from": "app@example.test", "to": [f"{label}@example.test"], "subject": f"Welcome {label}",
        "text": f"Confirm: https://app.example.test/confirm?t={label} code 493817",
    })
    assert sent.startswith("Sent: message ID"), sent
    inboxes = inside(await call(session, "list_inboxes"))
    assert any(inbox["Name"] == "default" and inbox["Total"] >= 1 for inbox in inboxes), inboxes
    found = inside(await call(session, "search_messages", {"query": f"to:{label}@example.test", "limit": 5}))
    assert found["messages_count"] == 1, found
    message_id = found["messages"][0]["ID"]
    # Found by ID, since the message is there already.
    waited = inside(await call(session, "wait_for_message", {"query": f"subject:\"Welcome {label}\"", "timeout": "5s",
                                                             "after": "1970-01-01T00:00:00Z"}))
    assert waited["ID"] == message_id, waited
    timed_out = await session.call_tool("wait_for_message", {"query": "subject:never-sent", "timeout": "200ms"})
    assert timed_out.is_error and "no message" in text_of(timed_out), text_of(timed_out)
    message = inside(await call(session, "get_message", {"id": message_id}))
    assert message["Subject"] == f"Welcome {label}" and "493817" in message["Text"], message
    links = inside(await call(session, "extract_links", {"id": message_id}))
    assert f"https://app.example.test/confirm?t={label}" in json.dumps(links), links
    codes = inside(await call(session, "extract_codes", {"id": message_id}))
    assert "493817" in json.dumps(codes), codes
    report = inside(await call(session, "check_message", {"id": message_id}))
    assert "Score" in report or "score" in report, list(report)
    raw = inside(await call(session, "get_raw", {"id": message_id, "offset": 0, "length": 100}))
    assert len(raw["Raw"]) <= 100 and raw["NextOffset"] == 100 and raw["Size"] > 100, raw

    hostile = await call(session, "get_message", {"id": hostile_id, "html": "source"})
    body = hostile.split(OPEN, 1)[1].split(CLOSE, 1)[0]
    # In the text and the HTML source, and nowhere outside the block.
    assert hostile.count("Ignore previous instructions") == body.count("Ignore previous instructions") == 2, hostile
    hostile_message = inside(hostile)
    assert CLOSE in hostile_message["Text"], hostile_message["Text"]  # the sender's fake tag, as data

    big = await call(session, "get_message", {"id": big_id})
    assert len(big) < 100_000, len(big)
    assert "more characters left out; get_raw reads the whole source" in big, big[-300:]
    big_raw = inside(await call(session, "get_raw", {"id": big_id, "offset": 1_000_000}))
    assert len(big_raw["Raw"]) == 50_000 and big_raw["RemainingBytes"] > 19_000_000, big_raw["RemainingBytes"]

    resources = (await session.list_resources()).resources
    uri = f"pigeonhole://message/{message_id}"
    assert any(str(resource.uri) == uri for resource in resources), resources
    templates = (await session.list_resource_templates()).resource_templates
    assert [template.uri_template for template in templates] == ["pigeonhole://message/{id}"], templates
    contents = (await session.read_resource(uri)).contents
    assert inside(contents[0].text)["ID"] == message_id, contents

    prompts = {prompt.name for prompt in (await session.list_prompts()).prompts}
    assert prompts == {"verify_signup_email", "check_password_reset_flow"}, prompts
    for name in prompts:
        prompt = await session.get_prompt(name, {"recipient": f"{label}@example.test"})
        assert f"{label}@example.test" in prompt.messages[0].content.text, prompt

    refused = await session.call_tool("delete_messages", {})
    assert refused.is_error and "all: true" in text_of(refused), text_of(refused)
    deleted = await call(session, "delete_messages", {"ids": [message_id]})
    assert "Deleted 1" in deleted, deleted
    gone = await session.call_tool("get_message", {"id": message_id})
    assert gone.is_error and "404" in text_of(gone), text_of(gone)
    print(f"{label}: every tool, a resource and both prompts")


async def main():
    binary, url, hostile_id, big_id = sys.argv[1:5]
    stdio = StdioServerParameters(command=binary, args=["mcp", "--url", url])
    async with stdio_client(stdio) as (read, write):
        async with ClientSession(read, write) as session:
            await exercise(session, "stdio", hostile_id, big_id)
    async with streamable_http_client(f"{url}/mcp") as (read, write):
        async with ClientSession(read, write) as session:
            await exercise(session, "http", hostile_id, big_id)

    # No engine: port 1 answers nothing on loopback.
    nobody = StdioServerParameters(command=binary, args=["mcp", "--url", "http://127.0.0.1:1"])
    async with stdio_client(nobody) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("list_inboxes", {})
            assert result.is_error and "pigeonhole serve" in text_of(result), text_of(result)
            print("no engine: " + text_of(result))


asyncio.run(main())
