"""What to paste into each assistant, and the steps in order (issue 17).

One source for the Connect tab, `notewell connect` and `notewell serve`:

    for guide in guides(Addresses(local="http://127.0.0.1:3333", public=None), token):
        guide.name, guide.steps, guide.pastes, guide.config

Each client's config is in the format its own documentation gives today:

- Claude Code: `claude mcp add --transport http <name> <url> --header "...: ..."`; a project's
  `.mcp.json` holds {"mcpServers": {name: {"type": "http", "url", "headers"}}}
  (code.claude.com/docs/en/mcp; Claude Code 2.1 refuses an entry with a url but no type).
- Cursor: ~/.cursor/mcp.json holds {"mcpServers": {name: {"url", "headers"}}}; Cursor picks
  streamable HTTP or SSE itself (cursor.com/docs/mcp, "Remote servers").
- VS Code: .vscode/mcp.json holds {"servers": {name: {"type": "http", "url", "headers"}}}
  (code.visualstudio.com/docs/copilot/reference/mcp-configuration, "HTTP and SSE servers").
- Claude Desktop: claude_desktop_config.json starts local commands only, so the URL goes
  through mcp-remote (npx) with the key as a header (github.com/geelen/mcp-remote, "--header").
- ChatGPT: a connector (Settings → Connectors → Advanced → Developer mode, then Create) takes
  the public MCP URL and signs in with OAuth; ChatGPT sends no static key (DESIGN.md;
  developers.openai.com/apps-sdk/deploy/connect-chatgpt). A custom GPT's Action imports /openapi.json and sends the key as Bearer.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .settings import Settings

SERVER_NAME = "notewell"
TOKEN_PLACEHOLDER = "<API key from `notewell token`>"
PUBLIC_PLACEHOLDER = "https://<your public URL>"
# First-time sharing: where ngrok's dashboard gives the authtoken and the one free static domain.
NGROK_AUTHTOKEN_PAGE = "https://dashboard.ngrok.com/get-started/your-authtoken"
NGROK_DOMAINS_PAGE = "https://dashboard.ngrok.com/domains"
CLIENTS = ("chatgpt", "gpt-action", "claude-desktop", "claude-code", "cursor", "vscode")

PasteKind = Literal["url", "json", "command", "secret"]
Surface = Literal["app", "cli"]


@dataclass(frozen=True)
class Addresses:
    """Where Notewell answers: `local` on this computer, `public` once shared (None before)."""

    local: str
    public: str | None = None


def addresses_for(settings: Settings, running_url: str | None = None, public: str | None = None) -> Addresses:
    """The running server's address, else the one the settings give it; the public URL when
    sharing, else the one the settings fix (the user's own URL, or the static ngrok domain)."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    local = running_url or f"http://{host}:{settings.port}"
    if public is None and settings.public_url:
        public = settings.public_url.strip().rstrip("/")
    elif public is None and settings.ngrok_domain:
        public = "https://" + settings.ngrok_domain.strip().rstrip("/").split("://")[-1]
    return Addresses(local=local, public=public)


@dataclass(frozen=True)
class Paste:
    label: str
    text: str
    kind: PasteKind


@dataclass(frozen=True)
class ClientGuide:
    key: str
    name: str
    summary: str
    steps: tuple[str, ...]
    pastes: tuple[Paste, ...]
    config: str  # what `notewell connect CLIENT --json` prints: the one thing to paste
    needs_public: bool  # the assistant runs in the cloud: it needs the public URL


def mcp_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claude_code_json(url: str, token: str) -> dict:
    return {"mcpServers": {SERVER_NAME: {"type": "http", "url": url, "headers": mcp_header(token)}}}


def claude_code_command(url: str, token: str) -> str:
    return shlex.join(["claude", "mcp", "add", "--transport", "http", "--scope", "user", SERVER_NAME, url,
                       "--header", f"Authorization: Bearer {token}"])


def cursor_json(url: str, token: str) -> dict:
    return {"mcpServers": {SERVER_NAME: {"url": url, "headers": mcp_header(token)}}}


def vscode_json(url: str, token: str) -> dict:
    return {"servers": {SERVER_NAME: {"type": "http", "url": url, "headers": mcp_header(token)}}}


def claude_desktop_json(url: str, token: str) -> dict:
    """The header goes through an environment variable without a space after the colon:
    Claude Desktop on Windows splits arguments at spaces (mcp-remote's README)."""
    server = {
        "command": "npx",
        "args": ["-y", "mcp-remote", url, "--header", "Authorization:${NOTEWELL_AUTH}"],
        "env": {"NOTEWELL_AUTH": f"Bearer {token}"},
    }
    return {"mcpServers": {SERVER_NAME: server}}


def chatgpt_json(url: str) -> dict:
    return {"name": "Notewell", "mcp_server_url": url, "authentication": "OAuth"}


def gpt_action_json(schema_url: str, token: str) -> dict:
    return {"schema_url": schema_url,
            "authentication": {"type": "API Key", "auth_type": "Bearer", "api_key": token}}


def _dump(config: dict) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False)


def guides(addresses: Addresses, token: str, surface: Surface = "app") -> list[ClientGuide]:
    """Every assistant's card, in the order people are most likely to look for them."""
    return [guide(key, addresses, token, surface) for key in CLIENTS]


def guide(key: str, addresses: Addresses, token: str, surface: Surface = "app") -> ClientGuide:
    if key not in CLIENTS:
        raise KeyError(f"unknown assistant {key!r}; choose one of {', '.join(CLIENTS)}")
    public = addresses.public or PUBLIC_PLACEHOLDER
    # Assistants on this computer use the local address: it works without sharing, and their
    # requests never leave the machine.
    local = addresses.local
    share = ("Share your notes: choose Start sharing above, so ChatGPT can reach Notewell at a public "
             "https:// address." if surface == "app" else
             "Share your notes: run `notewell serve --tunnel ngrok` (or choose Start sharing in the app), "
             "so ChatGPT can reach Notewell at a public https:// address.")
    if addresses.public:
        share = f"Notewell is shared at {addresses.public}: keep it running while you use ChatGPT."
    if key == "chatgpt":
        url = f"{public}/mcp"
        allow = ("ChatGPT opens a Notewell page in your browser and Notewell asks you, in this app, "
                 "whether to allow it: choose Allow." if surface == "app" else
                 "ChatGPT opens a Notewell page in your browser: type the one-time code that "
                 "`notewell serve` prints there (or choose Allow in the desktop app).")
        return ClientGuide(
            key, "ChatGPT", "A connector: ChatGPT searches and reads your notes after you allow it once.",
            (share,
             "In ChatGPT, open Settings → Apps & Connectors (Connectors on some plans) → Advanced and turn on "
             "Developer mode.",
             "Back in Apps & Connectors, choose Create. Name it Notewell, paste the MCP URL below as the "
             "connector URL, and choose OAuth as the authentication.",
             allow,
             "In a new chat, choose + → Developer mode, turn on Notewell, and ask about your notes."),
            (Paste("MCP URL", url, "url"),),
            _dump(chatgpt_json(url)), True)
    if key == "gpt-action":
        schema = f"{public}/openapi.json"
        return ClientGuide(
            key, "Custom GPT (Action)", "A GPT of your own that calls Notewell with your API key.",
            (share,
             "In ChatGPT, open GPTs → Create → Configure, and under Actions choose Create new action.",
             "Choose Import from URL and paste the schema URL below.",
             "Under Authentication choose API Key, Auth Type Bearer, and paste your API key.",
             "Save the GPT and ask it about your notes."),
            (Paste("Schema URL", schema, "url"), Paste("API key", token, "secret")),
            _dump(gpt_action_json(schema, token)), True)
    url = f"{local}/mcp"
    if key == "claude-desktop":
        config = _dump(claude_desktop_json(url, token))
        return ClientGuide(
            key, "Claude Desktop", "Claude's desktop app reaches Notewell through mcp-remote, on this computer.",
            ("Install Node.js (nodejs.org) if `npx` is not on this computer yet: mcp-remote runs with it.",
             "In Claude Desktop, open Settings → Developer → Edit Config: it opens claude_desktop_config.json.",
             "Paste the config below (if the file already has \"mcpServers\", add the \"notewell\" entry to it) "
             "and save.",
             "Quit Claude Desktop completely and open it again: Notewell's search and fetch tools appear in "
             "the chat's tools menu."),
            (Paste("claude_desktop_config.json", config, "json"),),
            config, False)
    if key == "claude-code":
        command = claude_code_command(url, token)
        config = _dump(claude_code_json(url, token))
        return ClientGuide(
            key, "Claude Code", "Anthropic's coding agent, in the terminal: one command adds Notewell.",
            ("Run the command below in a terminal: it adds Notewell for all your projects.",
             "Or, to share the setup with a project, put the .mcp.json config in the project's root folder "
             "instead (merge it into \"mcpServers\" if the file exists).",
             "Check with `claude mcp list`: notewell shows as connected. In Claude Code, /mcp lists its tools."),
            (Paste("Command", command, "command"), Paste(".mcp.json", config, "json")),
            config, False)
    if key == "cursor":
        config = _dump(cursor_json(url, token))
        return ClientGuide(
            key, "Cursor", "Cursor's agent searches your notes while it works.",
            ("In Cursor, open Settings → Tools & MCP → New MCP Server: it opens ~/.cursor/mcp.json "
             "(or create that file).",
             "Paste the config below (merge the \"notewell\" entry into \"mcpServers\" if the file has one) "
             "and save.",
             "Back in Settings → Tools & MCP, notewell shows a green dot and its tools; use them in the "
             "Agent chat."),
            (Paste("~/.cursor/mcp.json", config, "json"),),
            config, False)
    config = _dump(vscode_json(url, token))
    return ClientGuide(
        key, "VS Code", "GitHub Copilot's agent mode in VS Code uses Notewell's tools.",
        ("In your project, create .vscode/mcp.json (or run “MCP: Open User Configuration” from the Command "
         "Palette for every workspace).",
         "Paste the config below (merge the \"notewell\" entry into \"servers\" if the file has one) and save.",
         "Choose Start above the notewell entry in the editor, then use its tools in Copilot Chat's Agent mode."),
        (Paste(".vscode/mcp.json", config, "json"),),
        config, False)


def serve_lines(base: str) -> list[str]:
    """What `notewell serve` prints for one base URL (local, or public once the tunnel is up)."""
    mcp = base + "/mcp"
    one_line = lambda config: json.dumps(config, ensure_ascii=False)  # noqa: E731
    return [
        f"  MCP URL (header Authorization: Bearer <API key>): {mcp}",
        f"    Claude Code: {claude_code_command(mcp, TOKEN_PLACEHOLDER)}",
        f"    Cursor ~/.cursor/mcp.json: {one_line(cursor_json(mcp, TOKEN_PLACEHOLDER))}",
        f"    VS Code .vscode/mcp.json: {one_line(vscode_json(mcp, TOKEN_PLACEHOLDER))}",
        f"    Claude Desktop config: {one_line(claude_desktop_json(mcp, TOKEN_PLACEHOLDER))}",
        f"  custom GPT Action: import {base}/openapi.json; Authentication API Key, Auth type Bearer",
        "  (`notewell connect CLIENT` prints the steps for one assistant)",
    ]
