"""Each assistant's config format, as data, from its published documentation (issue 17).

`check(client, text)` says what is wrong with a config for that client, or nothing.
Sources: code.claude.com/docs/en/mcp (Claude Code: "type": "http" is required for a URL
entry, `--transport http NAME URL --header "K: V"`), cursor.com/docs/mcp (Cursor: url and
optional headers under "mcpServers"), code.visualstudio.com/docs/copilot/reference/mcp-configuration
(VS Code: "servers", "type" required), github.com/geelen/mcp-remote (Claude Desktop: a
command entry under "mcpServers"; claude_desktop_config.json has no URL entries).
"""

from __future__ import annotations

import json
import shlex

FORMATS: dict[str, dict] = {
    "claude-code": {"root": "mcpServers", "required": {"type", "url", "headers"},
                    "allowed": {"type", "url", "headers", "headersHelper", "oauth"}, "type": "http"},
    "cursor": {"root": "mcpServers", "required": {"url"}, "allowed": {"url", "headers", "type", "auth"},
               "type": None},
    "vscode": {"root": "servers", "required": {"type", "url"},
               "allowed": {"type", "url", "headers", "dev", "envFile"}, "type": "http"},
    "claude-desktop": {"root": "mcpServers", "required": {"command", "args"},
                       "allowed": {"command", "args", "env"}, "type": None},
}
NAME = "notewell"


def check(client: str, text: str, url: str, token: str) -> list[str]:
    """Problems with `text` as `client`'s config; [] when it is right."""
    spec = FORMATS[client]
    try:
        data = json.loads(text)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    problems = []
    if set(data) != {spec["root"]}:
        problems.append(f"top level is {sorted(data)}, expected only {spec['root']!r}")
        return problems
    entry = data[spec["root"]].get(NAME)
    if not isinstance(entry, dict):
        return [f"no {NAME!r} entry"]
    if missing := spec["required"] - set(entry):
        problems.append(f"missing {sorted(missing)}")
    if extra := set(entry) - spec["allowed"]:
        problems.append(f"unknown keys {sorted(extra)}")
    if spec["type"] and entry.get("type") != spec["type"]:
        problems.append(f"type is {entry.get('type')!r}, expected {spec['type']!r}")
    if "url" in spec["required"]:
        if entry.get("url") != url:
            problems.append(f"url is {entry.get('url')!r}")
        headers = entry.get("headers") or {}
        if headers.get("Authorization") != f"Bearer {token}":
            problems.append(f"headers are {headers!r}")
    if client == "claude-desktop":
        args = entry.get("args", [])
        if entry.get("command") != "npx" or args[:3] != ["-y", "mcp-remote", url]:
            problems.append(f"not an mcp-remote command for {url}: {entry}")
        header = args[args.index("--header") + 1] if "--header" in args else ""
        name, _, value = header.partition(":")
        value = value.replace("${NOTEWELL_AUTH}", entry.get("env", {}).get("NOTEWELL_AUTH", ""))
        if name != "Authorization" or value != f"Bearer {token}" or " " in header:
            problems.append(f"header argument {header!r} does not carry the key without spaces")
    return problems


def check_claude_command(command: str, url: str, token: str) -> list[str]:
    words = shlex.split(command)
    problems = []
    if words[:3] != ["claude", "mcp", "add"]:
        problems.append(f"not `claude mcp add`: {words[:3]}")
    if "--transport" not in words or words[words.index("--transport") + 1] != "http":
        problems.append("no --transport http")
    if "--header" not in words or words[words.index("--header") + 1] != f"Authorization: Bearer {token}":
        problems.append("no --header 'Authorization: Bearer KEY'")
    positional = [w for i, w in enumerate(words[3:], 3)
                  if not w.startswith("--") and not words[i - 1] in ("--transport", "--scope", "--header")]
    if positional != [NAME, url]:
        problems.append(f"name and URL are {positional}")
    return problems
