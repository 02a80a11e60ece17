/**
 * Appendix A of regf.md: the offreg.dll calls that made `test/fixtures/hives/valid/offreg-testhive`, replayed through
 * the builder. Used by the tests to compare our layout with offreg's, cell by cell.
 */
import { HiveBuilder } from './build.js';
import { REG } from './types.js';

/** Replays the operations of nt-hive's offreg-testhive-writer. */
export function replayOffregTesthive(): HiveBuilder {
  const b = new HiveBuilder();
  const big = b.key('big-data-test');
  big.setValue('A', REG.BINARY, new Uint8Array(16343).fill(0x41));
  big.setValue('B', REG.BINARY, new Uint8Array(16344).fill(0x42));
  big.setValue('C', REG.BINARY, new Uint8Array(16345).fill(0x43));
  const enc = b.key('character-encoding-test');
  enc.subkey('äöü');
  enc.subkey('\uff21');
  enc.subkey('\uff41');
  enc.subkey('\u{10410}');
  enc.subkey('\u{10438}');
  const data = b.key('data-test');
  data.setString('reg-sz', 'sz-test');
  data.setString('reg-sz-with-terminating-nul', 'sz-test\0');
  data.setString('reg-expand-sz', 'sz-test', REG.EXPAND_SZ);
  data.setMultiString('reg-multi-sz', ['multi-sz-test', 'line2']);
  data.setMultiString('reg-multi-sz-big', ['0123456789'.repeat(820), '0123456789']);
  data.setDword('dword', 42);
  const le = new Uint8Array(4);
  new DataView(le.buffer).setUint32(0, 42, true);
  data.setValue('dword-big-endian', REG.DWORD_BIG_ENDIAN, le);
  data.setQword('qword', 0xffffffffffffffffn);
  data.setValue('binary', REG.BINARY, Uint8Array.of(1, 2, 3, 4, 5));
  const sub = b.key('subkey-test');
  for (let i = 0; i < 512; i++) sub.subkey(`${i % 2 === 0 ? 'K' : 'k'}ey${i}`);
  b.key('subpath-test\\no-subkeys');
  b.key('subpath-test\\with-single-level-subkey\\subkey');
  b.key('subpath-test\\with-two-levels-of-subkeys\\subkey1\\subkey2');
  return b;
}
