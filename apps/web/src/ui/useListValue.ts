import { useCallback, useEffect, useState } from 'react';
import type { ShoppingListApi } from '@basket/list-core';

/**
 * A value derived from the list, re-read after every list change. For views
 * that are open only now and then (activity, notices, title); the item rows
 * use the session's useItems, which keeps identities for memoized rows.
 * `read` must be a module-level function (it is not a dependency).
 */
export function useListValue<T>(
  list: ShoppingListApi,
  read: (list: ShoppingListApi) => T,
): [T, () => void] {
  const [value, setValue] = useState(() => read(list));
  const refresh = useCallback(() => setValue(read(list)), [list]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    refresh();
    return list.observe(refresh);
  }, [list, refresh]);
  return [value, refresh];
}
