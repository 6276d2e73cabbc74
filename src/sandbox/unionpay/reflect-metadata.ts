/**
 * @peculiar/x509 resolves its crypto providers through tsyringe, which refuses to load unless a
 * Reflect metadata polyfill is present. The project ships none, and tsyringe's container only needs
 * these three functions (no decorator metadata is emitted by our code), so this is the smallest
 * stand-in. Import it before @peculiar/x509; it leaves a real polyfill alone.
 */
type MetadataReflect = typeof Reflect & {
  getMetadata?: (key: unknown, target: object) => unknown;
  getOwnMetadata?: (key: unknown, target: object) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: object) => void;
};

const reflect = Reflect as MetadataReflect;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<object, Map<unknown, unknown>>();
  const own = (key: unknown, target: object) => store.get(target)?.get(key);
  reflect.defineMetadata = (key, value, target) => {
    let entries = store.get(target);
    if (entries === undefined) {
      entries = new Map();
      store.set(target, entries);
    }
    entries.set(key, value);
  };
  reflect.getOwnMetadata = own;
  reflect.getMetadata = (key, target) => {
    for (let object: object | null = target; object !== null; object = Object.getPrototypeOf(object) as object | null) {
      const value = own(key, object);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

export {};
