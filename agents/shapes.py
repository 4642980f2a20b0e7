"""What each built-in agent's screen looks like: regular expressions over the last lines
of its screen, by what they mean.

- ``needs_you``: a question waiting for an answer (a permission or approval menu, a
  trust or sign-in choice, "Press Enter to continue");
- ``working``: the agent says it is busy (its "esc to interrupt" status line);
- ``idle``: its input box, waiting for a new request.

Claude Code's and Codex's were read off their real screens (recorded in
tests/fixtures/agents/, see the README there); aider's and Gemini CLI's come from their
documentation and source (their prompts are fixed strings: aider's ``confirm_ask``
questions, Gemini's tool confirmation). A pattern is searched (``re.search``) in each
of the last lines, so it need not match a whole line.
"""

from __future__ import annotations

CLAUDE = {
    "needs_you": (
        r"^\s*Do you want to .*\?\s*$",  # proceed / make this edit / allow Claude to fetch...
        r"^\s*(❯\s*)?1\.\s+Yes\b",  # its menus' first choice
        r"Esc to cancel · Tab to amend",
        r"Enter to confirm · Esc to cancel",
        r"Yes, I trust this folder|Do you trust the files in this folder",
        r"Do you want to use this API key\?",
        r"Choose the text style|Select login method",
        r"Press Enter to continue",
        r"^\s*Would you like to .*\?\s*$",
    ),
    "working": (r"esc to interrupt",),
    "idle": (r"\? for shortcuts", r"^\s*⏵⏵ .* on \(shift\+tab to cycle\)\s*$", r"^❯\s"),
}

CODEX = {
    "needs_you": (
        r"Would you like to (run|make|allow|apply)",
        r"Allow command\?|Approve\b.*\?",
        r"^\s*[›>]?\s*1\.\s+(Yes|Trust|Approve|Allow)\b",
        r"Press enter to (continue|confirm|save)",
        r"Trust this folder\?|Do you trust",
        r"Sign in with ChatGPT|Provide your own API key|Paste or type your API key",
        r"enter (continue|confirm) · esc",
        r"\(y\)\s*$|\[y/n\]",
    ),
    "working": (r"esc to interrupt", r"^\s*[•◦]\s+Working\b"),
    "idle": (r"^\s*›\s", r"\? for shortcuts", r"Ask Codex to do anything"),
}

AIDER = {
    "needs_you": (
        r"\(Y\)es/\(N\)o",  # every confirm_ask question: Add file? Run shell command? ...
        r"\[(Yes|No)\]:\s*$",
        r"Open (URL|documentation url) for more info\?",
        r"^\s*(Add|Create|Run|Apply|Attempt|Allow|Fix|Drop|Commit|Edit)\b.*\?\s",
    ),
    "working": (
        r"Waiting for [\w./:-]+",  # its spinner while the model answers
        r"^\s*[░█▒▓]+\s*(Waiting|Updating|Scanning)",
    ),
    "idle": (r"^\s*(architect|ask|code|multi|help|context)?\s*>\s*$", r"^\S*\.\w+>\s*$"),
}

GEMINI = {
    "needs_you": (
        r"Allow execution of",
        r"Apply this change\?",
        r"Do you want to proceed\?",
        r"Waiting for user confirmation",
        r"^\s*[●○◯]?\s*1\.\s+Yes, allow once",
        r"How would you like to authenticate|Select Theme|Do you trust this folder",
    ),
    "working": (r"esc to cancel", r"Thinking\.\.\."),
    "idle": (r"Type your message or @path/to/file", r"^\s*>\s+Type your message"),
}
