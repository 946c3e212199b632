"""What to paste into each assistant: shared by the Connect tab and `notewell serve` (issue 7)."""

from __future__ import annotations

import json

TOKEN_PLACEHOLDER = "<API key from `notewell token`>"

INSTRUCTIONS = {
    "plugin": "In a client that installs ChatGPT-style plugins, choose “Install an unverified plugin”, "
              "paste the manifest URL, and when asked for the service token paste the API key.",
    "action": "In ChatGPT, create a GPT → Configure → Actions → Import from URL: paste the schema URL. "
              "Set Authentication to API Key, Auth type Bearer, and paste the API key.",
    "mcp": "Cursor, VS Code, Windsurf and Claude Code take the MCP URL with the API key as a header: "
           "paste the JSON snippet into their MCP settings (mcp.json). Claude Desktop runs remote "
           "servers through mcp-remote (Node.js): paste the Claude Desktop snippet into "
           "claude_desktop_config.json.",
    "chatgpt": "In ChatGPT, Settings → Connectors → Create (developer mode): paste the public MCP URL "
               "and choose OAuth. When ChatGPT asks, allow it here in Notewell (or type the code "
               "`notewell serve` prints). ChatGPT needs the public https:// URL: start sharing first.",
}


def mcp_snippet(url: str, token: str) -> str:
    """For clients that speak streamable HTTP with static headers (Cursor, VS Code, …)."""
    return json.dumps(
        {"mcpServers": {"notewell": {"url": url, "headers": {"Authorization": f"Bearer {token}"}}}},
        indent=2,
    )


def claude_desktop_snippet(url: str, token: str) -> str:
    """Claude Desktop's config starts local commands only; mcp-remote bridges to the URL.

    The header goes through an environment variable without a space after the colon:
    Claude Desktop on Windows splits arguments at spaces.
    """
    server = {
        "command": "npx",
        "args": ["-y", "mcp-remote", url, "--header", "Authorization:${NOTEWELL_AUTH}"],
        "env": {"NOTEWELL_AUTH": f"Bearer {token}"},
    }
    return json.dumps({"mcpServers": {"notewell": server}}, indent=2)


def serve_lines(base: str) -> list[str]:
    """What `notewell serve` prints for one base URL (local, or public once the tunnel is up)."""
    mcp = base + "/mcp"
    one_line = lambda snippet: json.dumps(json.loads(snippet))  # noqa: E731
    return [
        f"  MCP URL (header Authorization: Bearer <API key>): {mcp}",
        f"    Cursor / VS Code / Claude Code mcp.json: {one_line(mcp_snippet(mcp, TOKEN_PLACEHOLDER))}",
        f"    Claude Desktop config: {one_line(claude_desktop_snippet(mcp, TOKEN_PLACEHOLDER))}",
        f"  custom GPT Action: import {base}/openapi.json; Authentication API Key, Auth type Bearer",
    ]
