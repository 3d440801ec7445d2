/** The one place the session layer creates the list model. */
import type * as Y from 'yjs';
import { ShoppingList, type ShoppingListApi } from '@basket/list-core';

/** `whenStateLoaded`: when the document may not hold the list's stored state yet (see ShoppingListOptions). */
export function createShoppingList(doc: Y.Doc, actor: string, whenStateLoaded?: Promise<unknown>): ShoppingListApi {
  return new ShoppingList(doc, whenStateLoaded === undefined ? { actor } : { actor, whenStateLoaded });
}
