// One prompt of a CompareWidget seen as an AttentionWidget model, so that the single-prompt views (token
// strip, heatmap) and Selection work unchanged on each panel. Selection traits pass through to the shared
// compare model (so every panel follows one selection); per-prompt arrays are picked out of its lists.
import type { AnyModel } from "@anywidget/types";
import type { Bytes, WidgetInfo, WidgetTraits } from "../model";
import type { CompareModel, CompareTraits } from "./model";

type Handler = (...args: any[]) => void;

/** Traits shared by every panel, read and written on the compare model as they are. */
const SHARED = new Set<keyof WidgetTraits>(["layer", "head", "token", "hovered_token", "color_scale"]);
/** Per-prompt traits → the compare trait whose list holds them. */
const PER_PROMPT: Partial<Record<keyof WidgetTraits, keyof CompareTraits>> = {
  _attention_map: "_maps",
  _thumbnails: "_thumbnails",
  _tokens: "_tokens",
  _info: "_info",
};
const EMPTY = new DataView(new ArrayBuffer(0));

/** The compare trait whose change means `name` changed in this panel (null: it never changes). */
export function sourceTrait(name: string): keyof CompareTraits | null {
  if (SHARED.has(name as keyof WidgetTraits)) return name as keyof CompareTraits;
  return PER_PROMPT[name as keyof WidgetTraits] ?? null;
}

/** A token index as one panel sees it: indices past its last token mean "none" (-1). */
export function clampToken(index: number, seqLen: number): number {
  return index >= 0 && index < seqLen ? index : -1;
}

export class PanelModel implements AnyModel<WidgetTraits> {
  readonly info: WidgetInfo;
  private readonly wrapped = new Map<Handler, Map<string, Handler>>();
  readonly widget_manager: AnyModel<WidgetTraits>["widget_manager"];

  constructor(private readonly parent: CompareModel, readonly index: number) {
    const c = parent.get("_info");
    this.info = {
      model_name: c.model_name,
      num_layers: c.num_layers,
      num_heads: c.num_heads,
      num_kv_heads: c.num_kv_heads,
      seq_len: c.seq_lens[index],
      is_causal: c.is_causal,
      thumbnail_size: c.thumbnail_sizes[index],
      neuron_widths: {},
      scores: [],
      layer_stats: [],
      // Cross-attention of encoder-decoder runs: rectangular maps over this prompt's source tokens.
      kind: c.kind,
      key_len: c.key_lens?.[index],
      key_tokens: c.key_tokens?.[index],
      thumbnail_rows: c.thumbnail_rows?.[index],
      thumbnail_cols: c.thumbnail_cols?.[index],
    };
    this.widget_manager = parent.widget_manager as AnyModel<WidgetTraits>["widget_manager"];
    if ("isStatic" in parent) Object.defineProperty(this, "isStatic", { value: true });
  }

  get<K extends keyof WidgetTraits>(key: K): WidgetTraits[K] {
    const p = this.parent;
    const i = this.index;
    const value = ((): unknown => {
      switch (key) {
        case "token":
        case "hovered_token":
          return clampToken(p.get(key as "token" | "hovered_token"), this.info.seq_len);
        case "_info":
          return this.info;
        case "_tokens":
          return p.get("_tokens")[i] ?? [];
        case "_thumbnails":
          return p.get("_thumbnails")[i] ?? EMPTY;
        case "_attention_map":
          return p.get("_maps")[i] ?? {};
        case "_predictions":
          return { info: { k: 0 }, tokens: [], data: EMPTY };
        case "_lens":
          return { info: { position: -1, k: 0 }, tokens: [], data: EMPTY };
        case "_head_scores":
          return EMPTY as Bytes;
        case "_neurons":
        case "_map_window":
          return {};
        case "map_window":
          // No kernel-side windows for panels: the heatmap zooms its own map without asking for detail.
          return undefined;
        case "neuron_kind":
          return "residual";
        case "neuron_k":
          return 0;
        case "head_score":
          return "none";
        default:
          return p.get(key as keyof CompareTraits);
      }
    })();
    return value as WidgetTraits[K];
  }

  set<K extends keyof WidgetTraits>(key: K, value: WidgetTraits[K]): void {
    // Only the shared selection is writable from a panel; the views write nothing else here.
    if (SHARED.has(key)) this.parent.set(key as keyof CompareTraits, value as never);
  }

  on(eventName: string, callback: Handler): void {
    const name = eventName.startsWith("change:") ? sourceTrait(eventName.slice(7)) : null;
    if (!name) return;
    let byEvent = this.wrapped.get(callback);
    if (!byEvent) this.wrapped.set(callback, (byEvent = new Map()));
    // One handler per panel event, each registered on the compare model.
    const handler: Handler = (...args) => callback(...args);
    byEvent.set(eventName, handler);
    this.parent.on(`change:${String(name)}`, handler);
  }

  off(eventName?: string | null, callback?: Handler | null): void {
    for (const [cb, byEvent] of this.wrapped) {
      if (callback && cb !== callback) continue;
      for (const [event, handler] of byEvent) {
        if (eventName && event !== eventName) continue;
        const name = sourceTrait(event.slice(7));
        if (name) this.parent.off(`change:${String(name)}`, handler);
        byEvent.delete(event);
      }
      if (!byEvent.size) this.wrapped.delete(cb);
    }
  }

  save_changes(): void {
    this.parent.save_changes();
  }

  send(content: unknown): void {
    this.parent.send(content);
  }
}
