import { Controller, Get, Param, Query } from '@nestjs/common';
import { ClientAuth } from '../common/client-auth.guard';
import { Derived } from '../common/derived';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { RelayConfig } from '../config/relay-config';
import { modelPage, type ModelPageQuery } from './model-page';

/** One entry of Anthropic's model list. */
interface ModelInfo {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

/**
 * `GET /v1/models` and `GET /v1/models/:id`, answered from the enabled providers' configured `models` and the
 * client-facing names of their `model_mapping`.
 */
@Controller('v1/models')
export class ModelsController {
  /** Rebuilt when a config reload replaces the providers. */
  private readonly lists = new Derived((providers: RelayConfig['providers']) => modelList(providers));

  constructor(private readonly config: RelayConfig) {}

  private get models(): ModelInfo[] {
    return this.lists.of(this.config.providers);
  }

  @Get()
  @ClientAuth()
  list(@Query() query: ModelPageQuery) {
    return modelPage(this.models, query);
  }

  @Get(':id')
  @ClientAuth()
  get(@Param('id') id: string): ModelInfo {
    const found = this.models.find((m) => m.id === id);
    if (!found) throw new RelayError(RelayErrorCode.NotFound, `model ${JSON.stringify(id)} not found`);
    return found;
  }
}

/** The model list of the enabled providers. */
function modelList(providers: RelayConfig['providers']): ModelInfo[] {
  const ids = new Set<string>();
  for (const p of providers) {
    if (!p.enabled) continue;
    // Prefix patterns (`claude-*`) route traffic but name no concrete model. The client-facing names of
    // model_mapping are models the provider serves, even when its `models` is empty (= any).
    for (const m of p.models) if (!m.endsWith('*')) ids.add(m);
    for (const m of Object.keys(p.model_mapping)) if (!m.endsWith('*')) ids.add(m);
  }
  return [...ids].map((id) => ({
    type: 'model',
    id,
    display_name: id,
    created_at: '2025-01-01T00:00:00Z',
  }));
}
