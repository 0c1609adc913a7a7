import type { Endpoint } from "../../balance/endpoint.ts";
import type { EndpointChange } from "../endpoint-source.ts";
import type { EndpointClass, SliceContribution } from "./slice-endpoints.ts";

interface AddressState {
  readonly endpoint: Endpoint;
  /** Slices that list the address as ready. */
  ready: number;
  /** Slices that list it as serving while terminating. */
  fallback: number;
}

const NO_CONTRIBUTION: SliceContribution = new Map();

/**
 * The endpoint set of one Service port, merged from all of its slices and
 * kept up to date one slice at a time.
 *
 * Each address counts how many slices list it in each class, so an address
 * in two slices (as during a slice split) is one endpoint, and a deleted
 * slice takes away only what it brought. An event costs work in proportion
 * to the slice that changed; only the rare switch between "some endpoint is
 * ready" and "none is, use the terminating ones" walks the whole service.
 */
export class ServiceEndpoints {
  private readonly slices = new Map<string, SliceContribution>();
  private readonly addresses = new Map<string, AddressState>();
  private readyCount = 0;

  /** Every endpoint that takes new calls now. */
  current(): Endpoint[] {
    const useReady = this.readyCount > 0;
    const out: Endpoint[] = [];
    for (const state of this.addresses.values()) {
      if (published(state, useReady)) {
        out.push(state.endpoint);
      }
    }
    return out;
  }

  /**
   * Replaces what the slice named `key` contributes (`undefined` when the
   * slice was deleted) and returns the change to the published set.
   */
  setSlice(key: string, contribution: SliceContribution | undefined): EndpointChange {
    const before = this.slices.get(key) ?? NO_CONTRIBUTION;
    const after = contribution ?? NO_CONTRIBUTION;
    if (contribution === undefined || contribution.size === 0) {
      this.slices.delete(key);
    } else {
      this.slices.set(key, contribution);
    }
    const usedReady = this.readyCount > 0;
    // Whether each address touched by this change was published before it.
    const touched = new Map<string, { readonly endpoint: Endpoint; readonly was: boolean }>();
    const touch = (endpoint: Endpoint) => {
      if (!touched.has(endpoint.address)) {
        const state = this.addresses.get(endpoint.address);
        touched.set(endpoint.address, { endpoint, was: state !== undefined && published(state, usedReady) });
      }
    };
    for (const [address, entry] of before) {
      const next = after.get(address);
      if (next?.class === entry.class) {
        continue;
      }
      touch(entry.endpoint);
      this.count(entry.endpoint, entry.class, -1);
    }
    for (const [address, entry] of after) {
      if (before.get(address)?.class === entry.class) {
        continue;
      }
      touch(entry.endpoint);
      this.count(entry.endpoint, entry.class, +1);
    }
    const useReady = this.readyCount > 0;
    if (useReady !== usedReady) {
      return this.switchClass(usedReady, useReady, touched);
    }
    const added: Endpoint[] = [];
    const removed: Endpoint[] = [];
    for (const [address, { endpoint, was }] of touched) {
      const state = this.addresses.get(address);
      const is = state !== undefined && published(state, useReady);
      if (is && !was) {
        added.push(endpoint);
      } else if (was && !is) {
        removed.push(endpoint);
      }
    }
    return { added, removed };
  }

  private count(endpoint: Endpoint, cls: EndpointClass, delta: 1 | -1): void {
    let state = this.addresses.get(endpoint.address);
    if (state === undefined) {
      state = { endpoint, ready: 0, fallback: 0 };
      this.addresses.set(endpoint.address, state);
    }
    if (cls === "ready") {
      if (state.ready === 0 && delta > 0) this.readyCount++;
      state.ready += delta;
      if (state.ready === 0 && delta < 0) this.readyCount--;
    } else {
      state.fallback += delta;
    }
    if (state.ready === 0 && state.fallback === 0) {
      this.addresses.delete(endpoint.address);
    }
  }

  /** All ready endpoints went away or the first came back: the whole published set changes class. */
  private switchClass(
    usedReady: boolean,
    useReady: boolean,
    touched: ReadonlyMap<string, { readonly endpoint: Endpoint; readonly was: boolean }>,
  ): EndpointChange {
    const added: Endpoint[] = [];
    const removed: Endpoint[] = [];
    for (const state of this.addresses.values()) {
      const was = touched.get(state.endpoint.address)?.was ?? published(state, usedReady);
      const is = published(state, useReady);
      if (is && !was) added.push(state.endpoint);
      if (was && !is) removed.push(state.endpoint);
    }
    for (const [address, { endpoint, was }] of touched) {
      if (was && !this.addresses.has(address)) {
        removed.push(endpoint);
      }
    }
    return { added, removed };
  }
}

function published(state: AddressState, useReady: boolean): boolean {
  return useReady ? state.ready > 0 : state.fallback > 0;
}
