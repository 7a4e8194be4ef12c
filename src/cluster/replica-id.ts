import { instanceName } from '../admin/relay-instance';

/**
 * This replica's id in the cluster: `CC_RELAY_REPLICA_ID` when set, else the instance name the admin API shows
 * (POD_NAME, HOSTNAME, the OS hostname) with the pid when it is not 1, so several processes on one host (a bare
 * VM, the e2e tests) stay apart while a pod is just its name.
 */
export function replicaIdOf(
  env: Record<string, string | undefined>,
  osHostname: string,
  pid: number,
): string {
  const explicit = env.CC_RELAY_REPLICA_ID?.trim();
  if (explicit) return explicit.slice(0, 253).replace(/[^\x21-\x7e]/g, '_');
  const name = instanceName(env, osHostname);
  return pid === 1 ? name : `${name}:${pid}`;
}
