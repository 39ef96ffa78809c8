/** A pixbook, named by its stream's two ids (`pixbook/{accountId}/{bookId}`): what drafts and trades act on. */
export interface BookRef {
  accountId: string
  bookId: string
}

/** The stream key of a pixbook (ARCHITECTURE §3). */
export const bookStreamKey = (book: BookRef): string => `pixbook/${book.accountId}/${book.bookId}`
