// Rendering without a kernel (standalone HTML export, benchmarks, screenshots): a local model that holds
// the state from AttentionWidget.state_for_export(), with bytes given as {"$bytes": "<base64>"}.
import type { AnyModel } from "@anywidget/types";
import { stepAfterToken, tokenAfterStep } from "./generation";
import type { AttentionMapInfo, Encoded, NeuronsInfo, WidgetTraits } from "./model";

// `any` because AnyModel types its handlers that way.
type Handler = (...args: any[]) => void;

/** Extra full-resolution maps a static page may carry (`_attention_map` values of other heads), shown when
 * their head is selected. */
export type ExtraMap = Encoded<AttentionMapInfo>;

/** Neuron plots of other layers a static page may carry (`_neurons` values), shown when selected. */
export type ExtraNeurons = Encoded<NeuronsInfo>;

export function base64ToDataView(text: string): DataView {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new DataView(bytes.buffer);
}

function revive(value: unknown): unknown {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if (typeof record.$bytes === "string" && Object.keys(record).length === 1) return base64ToDataView(record.$bytes);
    if (ArrayBuffer.isView(value)) return value;
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revive(v)]));
  }
  return Array.isArray(value) ? value.map(revive) : value;
}

/** Widget state with {"$bytes": base64} values turned into DataViews. */
export function decodeState(raw: Record<string, unknown>): WidgetTraits {
  return revive(raw) as WidgetTraits;
}

export class LocalModel implements AnyModel<WidgetTraits> {
  /** True: there is no kernel behind this model (kernel.ts's hasKernel reads it; views say so instead of
   * "loading"). */
  readonly isStatic = true;
  readonly sent: unknown[] = [];
  private readonly handlers = new Map<string, Set<Handler>>();
  widget_manager = {
    get_model: () => Promise.reject(new Error("no widget manager in a static page")),
  } as AnyModel<WidgetTraits>["widget_manager"];

  constructor(
    private readonly values: WidgetTraits,
    private readonly extraMaps: ExtraMap[] = [],
    private readonly extraNeurons: ExtraNeurons[] = [],
  ) {}

  get<K extends keyof WidgetTraits>(key: K): WidgetTraits[K] {
    return this.values[key];
  }

  set<K extends keyof WidgetTraits>(key: K, value: WidgetTraits[K]): void {
    const old = this.values[key];
    if (old === value) return;
    this.values[key] = value;
    this.emit(`change:${String(key)}`);
    if (key === "layer" || key === "head") this.followSelection();
    if (key === "step") this.followStep(old as number);
    if (key === "token") this.followToken();
  }

  on(eventName: string, callback: Handler): void {
    if (!this.handlers.has(eventName)) this.handlers.set(eventName, new Set());
    this.handlers.get(eventName)?.add(callback);
  }

  off(eventName?: string | null, callback?: Handler | null): void {
    if (!eventName) this.handlers.clear();
    else if (!callback) this.handlers.delete(eventName);
    else this.handlers.get(eventName)?.delete(callback);
  }

  save_changes(): void {}

  send(content: unknown): void {
    this.sent.push(content);
  }

  private emit(eventName: string): void {
    for (const handler of [...(this.handlers.get(eventName) ?? [])]) handler();
  }

  // What the kernel would do: `step` and `token` follow each other (generation.ts says how).
  private followStep(oldStep: number): void {
    const g = this.values._generation?.info;
    if (!g) return;
    this.set("token", tokenAfterStep(this.values.step, oldStep, this.values.token, g.prompt_length, this.values._info?.seq_len ?? 0));
  }

  private followToken(): void {
    const g = this.values._generation?.info;
    if (!g) return;
    this.set("step", stepAfterToken(this.values.token, this.values.step, g.prompt_length, this.values._info?.seq_len ?? 0, g.steps));
  }

  // What the kernel would do: send the newly selected head's map and layer's neurons, when the page carries them.
  private followSelection(): void {
    const map = this.extraMaps.find((m) => m.info.layer === this.values.layer && m.info.head === this.values.head);
    if (map && map !== this.values._attention_map) {
      this.values._attention_map = map;
      this.emit("change:_attention_map");
    }
    const neurons = this.extraNeurons.find(
      (n) => n.info.layer === this.values.layer && n.info.kind === this.values.neuron_kind,
    );
    if (neurons && neurons !== this.values._neurons) {
      this.values._neurons = neurons;
      this.emit("change:_neurons");
    }
  }
}
