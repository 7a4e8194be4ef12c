/** The header that names the replica behind every authenticated admin answer. */
export const INSTANCE_HEADER = 'x-cc-relay-instance';

/** Longest instance name kept: a DNS name's limit, which every pod name and hostname fits. */
const MAX_INSTANCE_NAME = 253;

/**
 * The name of this replica as the admin API shows it: `POD_NAME` (the Downward API), else `HOSTNAME` (the pod
 * name by default on Kubernetes, the container id under Docker), else the OS hostname. No pid is added: it is 1
 * in every pod, and the bare name is what `kubectl port-forward pod/<name>` takes. Characters a header cannot carry
 * become `_`, so a strange environment value can never turn admin answers into 500s.
 */
export function instanceName(env: Record<string, string | undefined>, osHostname: string): string {
  const raw = [env.POD_NAME, env.HOSTNAME, osHostname].map((v) => v?.trim() ?? '').find((v) => v !== '');
  const name = (raw ?? '').slice(0, MAX_INSTANCE_NAME).replace(/[^\x21-\x7e]/g, '_');
  return name === '' ? 'unknown' : name;
}

/** This replica's name, resolved once at boot (see instanceName). */
export class RelayInstance {
  constructor(readonly name: string) {}
}
