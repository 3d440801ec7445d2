/** The one place the session layer creates the list model. */
import type * as Y from 'yjs';
import { ShoppingList, type ShoppingListApi } from '@basket/list-core';

export function createShoppingList(doc: Y.Doc, actor: string): ShoppingListApi {
  return new ShoppingList(doc, { actor });
}
