/**
 * Diagrams of a state machine, from its definition (no running actor): Graphviz DOT and Mermaid stateDiagram-v2.
 * Built on @xstate/graph's `toDirectedGraph`, plus the eventless (`always`) transitions it leaves out, because
 * those carry real behaviour here (e.g. "every chunk verified → assembling").
 */
import { toDirectedGraph } from '@xstate/graph';
import type { DirectedGraphNode } from '@xstate/graph';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { downloadMachine } from './download/machine.js';
import { peerLinkMachine } from './peerLink/machine.js';

/**
 * Every XState machine of the product, by the name its diagrams carry (`docs/machines/<name>.dot|.mmd|.svg`,
 * written by `switchyard machines --all`). A new machine is added here, so its diagrams exist and stay current
 * (test/scale/machines.test.ts).
 */
export const MACHINES = {
  download: downloadMachine,
  peerLink: peerLinkMachine,
} as const;
export type MachineName = keyof typeof MACHINES;
export const MACHINE_NAMES = Object.keys(MACHINES) as MachineName[];

interface Edge {
  source: AnyStateNode;
  /** null: targetless (runs actions only, the state does not change) */
  target: AnyStateNode | null;
  label: string;
}

interface Model {
  root: DirectedGraphNode;
  nodes: DirectedGraphNode[];
  edges: Edge[];
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const inner = (guard as { guards?: unknown[] }).guards;
    const name = (guard as { type?: string }).type?.replace(/^xstate\./, '') ?? (guard.name || 'guard');
    return Array.isArray(inner) ? `${name}(${inner.map(guardName).join(', ')})` : name;
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    const { type, params } = guard as { type: string; params?: unknown };
    // static params tell guarded siblings apart (outcomeIs(complete) / outcomeIs(cancelled)); dynamic ones cannot
    if (params === null || typeof params !== 'object') return type;
    return `${type}(${Object.values(params).map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')})`;
  }
  return 'guard';
}

/** The event type, except delayed events, whose generated type repeats the state id after the delay name. */
function eventLabel(eventType: string, source: AnyStateNode): string {
  const after = `.${source.id}`;
  if (eventType.startsWith('xstate.after.') && eventType.endsWith(after)) {
    return `after ${eventType.slice('xstate.after.'.length, -after.length)}`;
  }
  return eventType === '' ? 'always' : eventType;
}

function labelOf(eventType: string, source: AnyStateNode, guard: unknown): string {
  const g = guardName(guard);
  return g === null ? eventLabel(eventType, source) : `${eventLabel(eventType, source)} [${g}]`;
}

function model(machine: AnyStateMachine): Model {
  // the root node, not the machine: toDirectedGraph tells them apart with instanceof, which a second copy of xstate defeats
  const root = toDirectedGraph(machine.root);
  const nodes: DirectedGraphNode[] = [];
  const edges: Edge[] = [];
  const walk = (n: DirectedGraphNode) => {
    nodes.push(n);
    for (const e of n.edges) {
      const targetless = e.transition.target === undefined || e.transition.target.length === 0;
      edges.push({
        source: e.source,
        target: targetless ? null : e.target,
        label: labelOf(e.transition.eventType, e.source, e.transition.guard),
      });
    }
    for (const t of n.stateNode.always ?? []) {
      for (const target of t.target ?? [null]) edges.push({ source: n.stateNode, target, label: labelOf('', n.stateNode, t.guard) });
    }
    n.children.forEach(walk);
  };
  walk(root);
  return { root, nodes, edges };
}

const isComposite = (s: AnyStateNode) => s.type === 'compound' || s.type === 'parallel';
const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
const clusterId = (s: AnyStateNode) => q(`cluster_${s.id}`);
const isAncestor = (a: AnyStateNode, b: AnyStateNode) => b.id.startsWith(`${a.id}.`);

/**
 * Graphviz DOT. Node ids are the qualified state ids (`download.active.server`), labelled with the state's key;
 * compound states are clusters whose point node (carrying the compound state's id) marks their initial state,
 * and edges from or to a compound state are clipped at its cluster. Targetless transitions are dashed
 * self-loops; transitions of the root itself start at the root's initial point.
 */
export function machineToDot(machine: AnyStateMachine): string {
  const { root, edges } = model(machine);
  const out: string[] = [
    `digraph ${q(root.id)} {`,
    '  compound=true;',
    '  rankdir=LR;',
    '  node [shape=box, style=rounded, fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  const initialEdges: string[] = [];
  const emitState = (n: DirectedGraphNode, indent: string) => {
    const s = n.stateNode;
    if (isComposite(s)) {
      const nested = s !== root.stateNode;
      const inner = nested ? `${indent}  ` : indent;
      const style = s.type === 'parallel' ? '"rounded,dashed"' : 'rounded';
      if (nested) out.push(`${indent}subgraph ${clusterId(s)} {`, `${inner}label=${q(s.key)};`, `${inner}style=${style};`);
      if (s.type === 'compound') {
        out.push(`${inner}${q(s.id)} [shape=point, width=0.15, label=""];`);
        for (const t of s.initial?.target ?? []) initialEdges.push(`  ${q(s.id)} -> ${q(t.id)};`);
      } else {
        out.push(`${inner}${q(s.id)} [shape=point, width=0.01, label=""];`);
      }
      for (const c of n.children) emitState(c, inner);
      if (nested) out.push(`${indent}}`);
    } else {
      const attrs = s.type === 'final' ? ', peripheries=2' : '';
      out.push(`${indent}${q(s.id)} [label=${q(s.key)}${attrs}];`);
    }
  };
  emitState(root, '  ');
  out.push(...initialEdges);
  for (const e of edges) {
    const target = e.target ?? e.source;
    const attrs = [`label=${q(e.label)}`];
    if (e.target === null) attrs.push('style=dashed');
    // a cluster can only clip edges that actually leave it
    if (isComposite(e.source) && e.source !== root.stateNode && !isAncestor(e.source, target) && e.source !== target) {
      attrs.push(`ltail=${clusterId(e.source)}`);
    }
    if (isComposite(target) && target !== root.stateNode && !isAncestor(target, e.source) && e.source !== target) {
      attrs.push(`lhead=${clusterId(target)}`);
    }
    out.push(`  ${q(e.source.id)} -> ${q(target.id)} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}

/**
 * Mermaid stateDiagram-v2. State ids are the qualified ids without the machine id, dots turned into `_`
 * (`active_server`), labelled with their key. Targetless transitions are self-loops; root transitions are
 * listed as a note, since Mermaid has no "from any state".
 */
export function machineToMermaid(machine: AnyStateMachine): string {
  const { root, edges } = model(machine);
  const rootNode = root.stateNode;
  const id = (s: AnyStateNode) => s.id.slice(rootNode.id.length + 1).replace(/[^A-Za-z0-9_]/g, '_');
  const text = (s: string) => s.replace(/[;:\n]/g, ' ');
  const out: string[] = ['stateDiagram-v2'];
  const emit = (n: DirectedGraphNode, indent: string) => {
    const s = n.stateNode;
    if (s.type === 'compound' || s === rootNode) {
      for (const t of s.initial?.target ?? []) out.push(`${indent}[*] --> ${id(t)}`);
    }
    n.children.forEach((c, i) => {
      const cs = c.stateNode;
      // Mermaid separates the regions of a parallel state with `--`
      if (s.type === 'parallel' && i > 0) out.push(`${indent}--`);
      if (isComposite(cs)) {
        out.push(`${indent}state "${cs.key}" as ${id(cs)} {`);
        emit(c, `${indent}  `);
        out.push(`${indent}}`);
      } else {
        out.push(`${indent}state "${cs.key}" as ${id(cs)}`);
        if (cs.type === 'final') out.push(`${indent}${id(cs)} --> [*]`);
      }
    });
  };
  emit(root, '  ');
  const rootEdges: string[] = [];
  for (const e of edges) {
    if (e.source === rootNode) {
      rootEdges.push(e.label);
      continue;
    }
    out.push(`  ${id(e.source)} --> ${id(e.target ?? e.source)} : ${text(e.label)}`);
  }
  if (rootEdges.length > 0) {
    const first = root.children[0];
    if (first) out.push(`  note right of ${id(first.stateNode)}`, `    in any state: ${text(rootEdges.join(', '))}`, '  end note');
  }
  return out.join('\n') + '\n';
}
