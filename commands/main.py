"""``jointgate``: the command line. ``jointgate --help`` lists the commands.

The parsers of every command are imported here; what runs a command is imported once it is
chosen (the imports marked ``start-up``), so that ``jointgate --help`` and ``jointgate token``
do not wait for the gateway's settings, the schema or the audit trail (docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from commands.audit.parser import add_commands as add_audit_commands
from commands.office_parser import add_commands as add_office_commands
from commands.policy.parser import add_commands as add_policy_commands

DEFAULT_DATA_DIR = Path(".jointgate")


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where local state lives (keys, audit trail); default .jointgate",
    )


def _world_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies every count (default 1)"
    )
    parser.add_argument("--seed", type=int, default=20261123, help="seed of the synthetic world")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jointgate",
        description="JointGate: one GraphQL gateway over the member agencies' systems.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="start the sandbox agencies and the gateway, on defaults"
    )
    demo.add_argument("--port", type=int, default=8400, help="gateway port (default 8400)")
    demo.add_argument("--host", default="127.0.0.1", help="gateway address (default 127.0.0.1)")
    _data_dir(demo)
    _world_options(demo)
    demo.add_argument(
        "--tls", action="store_true",
        help="agencies over TLS with client certificates (CA in DATA_DIR/tls)",
    )  # fmt: skip

    serve = commands.add_parser("serve", help="run the gateway alone, against configured agencies")
    serve.add_argument("--config", type=Path, required=True, help="jointgate.toml")

    config = commands.add_parser("config", help="check a jointgate.toml")
    config_commands = config.add_subparsers(
        dest="config_command", required=True, metavar="SUBCOMMAND"
    )
    check = config_commands.add_parser(
        "check", help="validate FILE with its JOINTGATE_* overrides; print what it configures"
    )
    check.add_argument("file", type=Path, help="jointgate.toml")

    sandbox = commands.add_parser("sandbox", help="run the four simulated agency systems")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    scenario = sandbox_commands.add_parser("scenario", help="print the demo scenario's identifiers")
    _world_options(scenario)
    _world_options(sandbox)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument(
        "--port", action="append", default=[], metavar="AGENCY=PORT",
        help="fixed port for an agency (default: free ports); repeatable",
    )  # fmt: skip
    sandbox.add_argument("--port-file", type=Path, help="write the agencies' URLs here as JSON")
    sandbox.add_argument("--bank-key-file", type=Path, help="HMAC key the banking system accepts")
    sandbox.add_argument(
        "--scenario-file", type=Path, help="write the demo scenario's identifiers here as JSON"
    )
    sandbox.add_argument("--latency-ms", action="append", default=[], metavar="AGENCY=MS")
    sandbox.add_argument("--error-rate", action="append", default=[], metavar="AGENCY=RATE")
    sandbox.add_argument("--down", action="append", default=[], metavar="AGENCY")
    sandbox.add_argument(
        "--tls", type=Path, metavar="DIR",
        help="serve over HTTPS with the CA and certificates in DIR (created if missing)",
    )  # fmt: skip
    sandbox.add_argument(
        "--require-client-cert", action="store_true",
        help="with --tls: accept only clients with a certificate from DIR's CA (mTLS)",
    )  # fmt: skip
    sandbox.add_argument(
        "--issuer-dir", type=Path, metavar="DATA_DIR",
        help="also serve the demo issuer's OpenID Connect endpoints (its keys in DATA_DIR)",
    )  # fmt: skip
    sandbox.add_argument(
        "--console-redirect", action="append", default=[], metavar="URI",
        help="with --issuer-dir: a redirect URI of the console client; repeatable",
    )  # fmt: skip
    sandbox.add_argument(
        "--exit-with-parent", action="store_true",
        help="stop when the parent process is gone (used by jointgate demo)",
    )  # fmt: skip

    token = commands.add_parser("token", help="print a signed access token for a demo user")
    token.add_argument("user", help="one of the built-in demo users (see docs/cli.md)")
    token.add_argument(
        "--ttl", type=int, default=8 * 3600, help="lifetime in seconds (default 8 h)"
    )
    token.add_argument("--client", default="jointgate-demo", help="azp claim: the client app")
    _data_dir(token)

    schema = commands.add_parser("schema", help="the unified GraphQL schema")
    schema_commands = schema.add_subparsers(
        dest="schema_command", required=True, metavar="SUBCOMMAND"
    )
    schema_commands.add_parser("print", help="print the SDL")

    add_policy_commands(commands)
    add_audit_commands(commands)
    add_office_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from commands.demo import run_demo  # start-up: once chosen (see above)

            return run_demo(
                args.host, args.port, args.data_dir, args.scale, args.seed, tls=args.tls
            )
        if args.command == "serve":
            from console.app import mount  # start-up: once chosen
            from gateway.serve import serve  # start-up: once chosen

            return serve(args.config, [mount])
        if args.command == "config":
            from gateway.config_check import check_command  # start-up: once chosen

            return check_command(args.file)
        if args.command == "sandbox":
            return _sandbox(args)
        if args.command == "token":
            return _token(args)
        if args.command == "policy":
            from commands.policy.sets import run as run_policy  # start-up: once chosen

            return run_policy(args)
        if args.command == "cases":
            from commands.policy.case_registry import run as run_cases  # start-up: once chosen

            return run_cases(args)
        if args.command in ("teams", "review"):
            from commands.policy.teams import run as run_teams  # start-up: once chosen

            return run_teams(args)
        if args.command in ("leads", "indicators"):
            from commands.office import run as run_office  # start-up: once chosen

            return run_office(args)
        if args.command == "audit":
            from commands.audit.run import run as run_audit  # start-up: once chosen

            return run_audit(args)
        if args.command == "schema":
            from schema.unified import build_schema  # start-up: once chosen

            print(build_schema().sdl())
            return 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly like other Unix tools, and keep
        # the interpreter's final flush of stdout from raising the same error again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141
    return 2


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox.world import generate  # start-up: once chosen

    if args.sandbox_command == "scenario":
        print(json.dumps(generate(args.scale, args.seed).scenario, ensure_ascii=False, indent=2))
        return 0
    from sandbox.cli import run_sandbox  # start-up: once chosen

    return run_sandbox(args)


def _token(args: argparse.Namespace) -> int:
    from sandbox.issuer import DEMO_USERS, NoDemoIssuer, mint_token  # start-up: once chosen

    if args.user not in DEMO_USERS:
        print(
            f"jointgate token: unknown user '{args.user}'; demo users: {', '.join(DEMO_USERS)}",
            file=sys.stderr,
        )
        return 2
    try:
        print(mint_token(args.user, args.data_dir, ttl_s=args.ttl, client=args.client))
    except NoDemoIssuer as exc:
        print(f"jointgate token: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
