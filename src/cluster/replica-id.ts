/**
 * This replica's id in the cluster: `CC_RELAY_REPLICA_ID` or `POD_NAME` when set (unique by construction), else
 * `HOSTNAME` or the OS hostname with the pid when it is not 1, so several processes on one host (a bare VM, tests)
 * stay apart while a container is just its name. Characters a header cannot carry become `_` (as the admin API's
 * instance name).
 */
export function replicaIdOf(
  env: Record<string, string | undefined>,
  osHostname: string,
  pid: number,
): string {
  const clean = (v: string) => v.slice(0, 253).replace(/[^\x21-\x7e]/g, '_');
  const explicit = [env.CC_RELAY_REPLICA_ID, env.POD_NAME].map((v) => v?.trim() ?? '').find((v) => v !== '');
  if (explicit) return clean(explicit);
  const host = [env.HOSTNAME, osHostname].map((v) => v?.trim() ?? '').find((v) => v !== '') ?? 'unknown';
  return clean(pid === 1 ? host : `${host}:${pid}`);
}
