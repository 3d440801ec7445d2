import { describe, expect, it } from 'vitest';
import { isListId, listPath, newListId, parseListPath, routeOf, shareUrl, startListId } from './routing.js';

describe('routing', () => {
  it('makes 22-character base64url list ids from 16 random bytes', () => {
    const id = newListId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(isListId(id)).toBe(true);
    expect(newListId()).not.toBe(id);
  });

  it('encodes the random bytes with the url-safe alphabet', () => {
    const allOnes = newListId((bytes) => bytes.fill(0xff));
    expect(allOnes).toBe('_____________________w');
    const zeros = newListId((bytes) => bytes.fill(0));
    expect(zeros).toBe('AAAAAAAAAAAAAAAAAAAAAA');
  });

  it('round-trips list paths and refuses anything else', () => {
    const id = 'abcdefghijklmnop_-12';
    expect(listPath(id)).toBe('/l/abcdefghijklmnop_-12');
    expect(parseListPath(listPath(id))).toBe(id);
    expect(parseListPath(listPath(id) + '/')).toBe(id);
    expect(parseListPath('/')).toBeNull();
    expect(parseListPath('/l/short')).toBeNull();
    expect(parseListPath('/l/has.dot.in.it.0123456')).toBeNull();
    expect(parseListPath('/l/' + 'a'.repeat(65))).toBeNull();
    expect(parseListPath('/x/abcdefghijklmnop')).toBeNull();
  });

  it('share url is the absolute list page url', () => {
    expect(shareUrl('abcdefghijklmnopqrstuv', 'https://basket.example')).toBe(
      'https://basket.example/l/abcdefghijklmnopqrstuv',
    );
  });

  it('start: a list url opens that list; / goes to the last list, else a new one', () => {
    const makeId = () => 'NEWNEWNEWNEWNEWNEWNEW1';
    expect(startListId('/l/abcdefghijklmnopqrstuv', 'lastlastlastlastlast', makeId)).toEqual({
      listId: 'abcdefghijklmnopqrstuv',
      redirect: false,
    });
    expect(startListId('/', 'lastlastlastlastlast', makeId)).toEqual({ listId: 'lastlastlastlastlast', redirect: true });
    expect(startListId('/', null, makeId)).toEqual({ listId: 'NEWNEWNEWNEWNEWNEWNEW1', redirect: true });
  });

  describe('share links that arrive damaged', () => {
    const id = 'AbCdEfGhIjKlMnOp_-12Zz';
    const makeId = () => 'NEWNEWNEWNEWNEWNEWNEW1';

    it('repairs slips whose fix is unambiguous, to the canonical path; working links stay as they are', () => {
      expect(startListId(`/l/${id})`, 'lastlastlastlastlast', makeId)).toEqual({ listId: id, redirect: true });
      expect(startListId(`/L/${id}`, null, makeId)).toEqual({ listId: id, redirect: true });
      expect(routeOf(`/l/${id}`)).toEqual({ kind: 'list', listId: id });
      // The query and hash are not part of the path; a trailing slash is the same list.
      expect(routeOf(`/l/${id}/`)).toEqual({ kind: 'list', listId: id });
      // `/L/`: a capitalised first letter (phones, dictation).
      expect(routeOf(`/L/${id}`)).toEqual({ kind: 'repaired', listId: id });
      // Punctuation of the sentence it was pasted from: none of it can be part of an id.
      for (const tail of [')', '.', ',', ').', '!', ';', ':', ']', '>', '%22', '%E2%80%9D', '%20', '/)', '//']) {
        expect(routeOf(`/l/${id}${tail}`), tail).toEqual({ kind: 'repaired', listId: id });
      }
    });

    it('a link that names no list opens none: not a new list, not the last one', () => {
      const broken = [
        `/l/${id.slice(0, 14)}`, // cut short
        `/L/${id.slice(0, 10)}.`,
        '/l/',
        '/l',
        '/L',
        `/l/${id}/items`,
        `/l/${id.slice(0, 8)}…${id.slice(12)}`, // shortened for display by a messenger
        `/l/${'a'.repeat(65)}`,
        '/l/%E0%A4%A', // a bad escape: still judged, not thrown
      ];
      for (const path of broken) {
        expect(startListId(path, 'lastlastlastlastlast', makeId), path).toEqual({ listId: null, redirect: false });
        expect(routeOf(path), path).toEqual({ kind: 'broken-link' });
      }
      // Only paths meant as share links: `/` and the rest still land on the start list.
      for (const path of ['/', '/index.html', '/lists', '/x/abcdefghijklmnop']) {
        expect(routeOf(path), path).toEqual({ kind: 'start' });
      }
      expect(startListId('/', null, makeId)).toEqual({ listId: makeId(), redirect: true });
    });
  });
});
