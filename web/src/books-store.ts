/**
 * The books this browser created, per user. The API has no "list my books"
 * route yet, so the list lives in localStorage and shows only books made here.
 */
export interface StoredBook {
  id: string;
  prompt: string;
  createdAt: string;
}

const key = (userId: string) => `ebook.books.${userId}`;

export function listBooks(userId: string): StoredBook[] {
  try {
    const v = JSON.parse(localStorage.getItem(key(userId)) ?? '[]');
    return Array.isArray(v) ? v.filter((b) => b && typeof b.id === 'string') : [];
  } catch {
    return [];
  }
}

export function rememberBook(userId: string, book: StoredBook): void {
  const books = [book, ...listBooks(userId).filter((b) => b.id !== book.id)].slice(0, 200);
  localStorage.setItem(key(userId), JSON.stringify(books));
}

export function forgetBook(userId: string, id: string): void {
  localStorage.setItem(key(userId), JSON.stringify(listBooks(userId).filter((b) => b.id !== id)));
}
