"""SCRAM users, ACLs and quotas on a secure node, set with Kafka's own tools from the jars.

aiokafka has no ACL or SCRAM calls, so this runs `AclCommand` and `ConfigCommand` as the
super user. A JVM start costs about a second, so rules with the same pattern type and
operations go into one `kafka-acls` call, and independent calls run side by side.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from intentcast.broker.kafka_local.distribution import KafkaDistribution
from intentcast.broker.kafka_local.secure import (
    MECHANISM,
    NodeSecurity,
    SecurityError,
    scram_config,
)
from intentcast.broker.principals import Principal, Quota, Resource, Rule

_FAST_JVM = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-Xmx256m")
_FLAG = {
    Resource.TOPIC: "--topic",
    Resource.GROUP: "--group",
    Resource.TRANSACTIONAL_ID: "--transactional-id",
}


class ToolFailedError(SecurityError):
    hint = "Is the secure node running (`intentcast kafka status --secure`)? Read the output above."


@dataclass(frozen=True)
class Provisioned:
    """What `provision` did, for the CLI to report."""

    username: str
    password: str
    acls: int
    quota: dict[str, str]


@dataclass
class SecureAdmin:
    """Kafka's admin tools, authenticated as the node's super user."""

    dist: KafkaDistribution
    security: NodeSecurity
    bootstrap: str
    parallel: int = 4

    def run(self, main_class: str, *args: str) -> str:
        """Run one tool against the node; raise with its output if it fails."""
        cmd = [
            str(self.dist.java),
            *_FAST_JVM,
            f"-Dlog4j2.configurationFile={self.security.folder / 'log4j2.properties'}",
            "-cp",
            self.dist.classpath,
            main_class,
            "--bootstrap-server",
            self.bootstrap,
            "--command-config",
            str(self.security.admin_properties),
            *args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0 or "Error while executing" in proc.stdout:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
            shown = " ".join(a for a in args if "password=" not in a)
            raise ToolFailedError(f"{main_class.rsplit('.', 1)[-1]} {shown} failed:\n{tail}")
        return proc.stdout

    def _run_all(self, calls: Sequence[tuple[str, ...]]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, self.parallel)) as pool:
            for future in [pool.submit(self.run, *call) for call in calls]:
                future.result()

    # -- SCRAM and quotas ------------------------------------------------------------------

    def _user_config(self, user: str, *args: str) -> tuple[str, ...]:
        return (
            "kafka.admin.ConfigCommand", "--alter", "--entity-type", "users",
            "--entity-name", user, *args,
        )  # fmt: skip

    def set_password_call(self, user: str, password: str) -> tuple[str, ...]:
        return self._user_config(user, "--add-config", scram_config(password))

    def quota_call(self, user: str, quota: Quota) -> tuple[str, ...] | None:
        config = quota.config()
        if not config:
            return None
        return self._user_config(
            user, "--add-config", ",".join(f"{k}={v}" for k, v in config.items())
        )

    # -- ACLs ------------------------------------------------------------------------------

    def acl_calls(
        self, principal: str, rules: Iterable[Rule], action: str = "--add"
    ) -> list[tuple[str, ...]]:
        """One `kafka-acls` call per (pattern type, operations): the tool takes the product."""
        groups: dict[tuple[str, tuple[str, ...]], list[Rule]] = {}
        for rule in rules:
            ops = tuple(sorted(op.value for op in rule.ops))
            groups.setdefault((rule.pattern.value, ops), []).append(rule)
        calls: list[tuple[str, ...]] = []
        for (pattern, ops), grouped in sorted(groups.items()):
            args = ["org.apache.kafka.tools.AclCommand", action, "--force"]
            args += ["--allow-principal", principal, "--resource-pattern-type", pattern]
            for op in ops:
                args += ["--operation", op]
            for rule in grouped:
                if rule.resource is Resource.CLUSTER:
                    args.append("--cluster")
                else:
                    args += [_FLAG[rule.resource], rule.name]
            calls.append(tuple(args))
        return calls

    def list_acls(self, principal: str | None = None) -> str:
        args = ["org.apache.kafka.tools.AclCommand", "--list"]
        if principal:
            args += ["--principal", principal]
        return self.run(*args)

    def describe_users(self) -> str:
        """`kafka-configs --describe --entity-type users`: SCRAM mechanisms and quotas."""
        return self.run("kafka.admin.ConfigCommand", "--describe", "--entity-type", "users")

    # -- one step per principal ------------------------------------------------------------

    def provision(
        self,
        principals: Sequence[Principal],
        quotas: dict[str, Quota] | None = None,
        *,
        with_passwords: bool = True,
    ) -> list[Provisioned]:
        """Create (or refresh) credentials, ACLs and quotas of each principal in one batch.

        Idempotent: the stored password is reused, ACLs and quotas are simply set again.
        `with_passwords=False` skips the SCRAM step for users written at format time.
        """
        store = self.security.credentials
        calls: list[tuple[str, ...]] = []
        done: list[Provisioned] = []
        for principal in principals:
            user = principal.username
            password = store.ensure(user)
            quota = (quotas or {}).get(user, principal.quota)
            if with_passwords:
                calls.append(self.set_password_call(user, password))
            quota_call = self.quota_call(user, quota)
            if quota_call is not None:
                calls.append(quota_call)
            rules = principal.rules()
            calls += self.acl_calls(principal.kafka_principal, rules)
            done.append(Provisioned(user, password, sum(len(r.ops) for r in rules), quota.config()))
        self._run_all(_merge_principals(calls))
        return done

    def deprovision(self, principal: Principal) -> None:
        """Remove the principal's ACLs, quotas and SCRAM credential; forget its password."""
        user = principal.username
        calls = self.acl_calls(principal.kafka_principal, principal.rules(), action="--remove")
        config = ",".join(principal.quota.config())
        if config:
            calls.append(self._user_config(user, "--delete-config", config))
        calls.append(self._user_config(user, "--delete-config", MECHANISM))
        self._run_all(calls)
        self.security.credentials.remove(user)


def _merge_principals(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Fold `kafka-acls` calls that differ only in the principal into one call (fewer JVMs)."""
    merged: dict[tuple[str, ...], list[str]] = {}
    others: list[tuple[str, ...]] = []
    for call in calls:
        if "--allow-principal" not in call:
            others.append(call)
            continue
        i = call.index("--allow-principal")
        merged.setdefault(call[:i] + call[i + 2 :], []).append(call[i + 1])
    for rest, principals in merged.items():
        flags = tuple(f for p in principals for f in ("--allow-principal", p))
        others.append(rest[:3] + flags + rest[3:])
    return others
