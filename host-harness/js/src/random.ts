// Randomness the host controls: a seeded generator, so a test repeats the
// same ids and the same bytes a plugin draws, run after run. Not for
// secrets: nothing the host draws here is one.

import { randomBytes } from "node:crypto";

/** SplitMix64: small, fast, and good enough to seed ids and test data. */
export class SeededRandom {
  private state: bigint;

  constructor(seed: bigint) {
    this.state = BigInt.asUintN(64, seed);
  }

  /** A generator seeded from the operating system, for runs outside tests. */
  static fromEntropy(): SeededRandom {
    return new SeededRandom(randomBytes(8).readBigUInt64LE());
  }

  nextU64(): bigint {
    this.state = BigInt.asUintN(64, this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }

  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += 8) {
      let word = this.nextU64();
      for (let i = offset; i < Math.min(offset + 8, length); i++) {
        bytes[i] = Number(word & 0xffn);
        word >>= 8n;
      }
    }
    return bytes;
  }

  /** A UUID v4 from 16 drawn bytes. */
  uuid(): string {
    const bytes = this.bytes(16);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Buffer.from(bytes).toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
