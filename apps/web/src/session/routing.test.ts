import { describe, expect, it } from 'vitest';
import { isListId, listPath, newListId, parseListPath, shareUrl, startListId } from './routing.js';

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
});
